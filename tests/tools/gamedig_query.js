// gamedig_query.js - one query by gamedig (a third-party A2S client) of a Source server;
// prints what it understood as JSON. Usage: node gamedig_query.js HOST PORT [TYPE]
import { GameDig } from 'gamedig';

const [host, port, type = 'csgo'] = process.argv.slice(2);
if (!host || !port) {
  console.error('usage: node gamedig_query.js HOST PORT [TYPE]');
  process.exit(2);
}
try {
  const s = await GameDig.query({
    type,
    host,
    port: Number(port),
    givenPortOnly: true, // no guessing at other ports: loopback, this port only
    maxRetries: 1,
    socketTimeout: 1000,
    attemptTimeout: 5000,
    requestRules: true,
    requestRulesRequired: true,
    requestPlayersRequired: true
  });
  console.log(JSON.stringify({
    name: s.name,
    map: s.map,
    numplayers: s.numplayers,
    maxplayers: s.maxplayers,
    players: s.players.map((p) => p.name),
    bots: s.bots.map((p) => p.name),
    password: s.password,
    version: s.version,
    connect: s.connect, // host:port (the EDF port when the server sends one)
    appId: s.raw.appId,
    steamid: s.raw.steamid,
    tags: s.raw.tags,
    rules: s.raw.rules
  }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
  process.exit(1);
}
