// raknet_peer.js - test only: a third-party RakNet implementation (jsp-raknet, pinned in
// package-lock.json) as a game server and as a player, for the validate raknet test
// (tests/integration/test_valid.sh).
//   node raknet_peer.js server HOST PORT
//       RakNet server; echoes every game message of a connected client; prints
//       'open ADDR' per connection. Runs until killed.
//   node raknet_peer.js client HOST PORT COUNT INTERVAL_MS
//       connects (pings, Open Connection Requests 1 and 2, connection request), then sends
//       COUNT game messages, INTERVAL_MS apart, and prints
//       {"connected":bool,"sent":N,"received":N}; exit 0 when all came back.
import raknet from 'jsp-raknet';

const { Client, Server, EncapsulatedPacket } = raknet;
const IMMEDIATE = 1; // jsp-raknet's Priority.Immediate
const GAME = 0xfe;   // a game message id (>= 0x80: not RakNet's own)
const [mode, host, portText, countText, intervalText] = process.argv.slice(2);
const port = Number(portText);

function message(buf) {
	const p = new EncapsulatedPacket();
	p.buffer = buf;
	p.reliability = 0; // unreliable: the test counts what comes back
	return p;
}

if (mode === 'server') {
	const srv = new Server(host, port, { toString: () => 'MCPE;bifrost lab;0;1.0;0;10' });
	await srv.listen();
	srv.on('openConnection', (conn) => console.log(`open ${conn.address.address}:${conn.address.port}`));
	srv.on('encapsulated', (packet, address) => {
		const conn = srv.connections.get(address.hash);
		if (conn && packet.buffer[0] === GAME)
			conn.addEncapsulatedToQueue(message(Buffer.from(packet.buffer)), IMMEDIATE);
	});
	console.log(`listening ${host}:${port}`);
} else if (mode === 'client') {
	const count = Number(countText), interval = Number(intervalText);
	const seen = new Set();
	let sent = 0, connected = false;
	const cl = new Client(host, port);
	const done = (code) => {
		console.log(JSON.stringify({ connected, sent, received: seen.size }));
		cl.close('done');
		setTimeout(() => process.exit(code), 200);
	};
	const limit = setTimeout(() => done(1), 15000 + count * interval);
	cl.on('encapsulated', (packet) => {
		if (packet.buffer[0] === GAME && packet.buffer.length >= 5)
			seen.add(packet.buffer.readUInt32BE(1));
	});
	cl.on('connected', (conn) => {
		connected = true;
		const timer = setInterval(() => {
			if (sent === count) {
				clearInterval(timer);
				setTimeout(() => { clearTimeout(limit); done(seen.size === count ? 0 : 1); }, 1000);
				return;
			}
			const buf = Buffer.alloc(48, 0x61);
			buf[0] = GAME;
			buf.writeUInt32BE(sent++, 1);
			conn.addEncapsulatedToQueue(message(buf), IMMEDIATE);
		}, interval);
	});
	cl.connect();
} else {
	console.error('usage: raknet_peer.js server HOST PORT | client HOST PORT COUNT INTERVAL_MS');
	process.exit(2);
}
