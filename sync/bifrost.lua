#!lua name=bifrost
-- bifrost.lua - the fleet bus's writes as Redis Functions (docs/REDIS.md,
-- "Writing"): a list entry and its change-log record in one atomic step, with
-- the next seq of that log computed here, so that any writer (bifrostctl,
-- redis-cli, the edges) keeps the log gap-free and the ZSET and the log in
-- step. Loaded by `bifrostctl functions load`; the edges run the same code
-- through EVALSHA (they may not load functions).
--
--   FCALL bifrost_add 1 <prefix><kind>:<origin> ENTRY TTL_MS [WHY]   (TTL_MS 0: permanent)
--   FCALL bifrost_del 1 <prefix><kind>:<origin> ENTRY [WHY]
--   FCALL bifrost_prune 1 <prefix><kind>:<origin> [LIMIT]           (expired members out)
--   FCALL bifrost_batch N KEY... RETENTION_MS MAXLEN (OP ENTRY EXP WHY)...  (the edges' writes)
--
-- The log key (<prefix>log:<kind>:<origin>) and the event channel
-- (<prefix>evt:<origin>) are derived from the list key: Bifrost runs on a
-- standalone Redis (or a primary with replicas), not on Redis Cluster.

local RETENTION_MS = 86400000 -- the logs keep a day
local MAXLEN = 50000 -- and at most about this many records (docs/OPERATIONS.md, memory)
local PRUNE_LIMIT = 256 -- expired members removed per call at most: bounded work
local MAX_TTL_MS = 315360000000 -- ten years: farther is refused, as the edges do
local KINDS = { wl = true, bl = true, punch = true, valid = true }

local function fail(msg)
	return redis.error_reply('ERR bifrost: ' .. msg)
end

-- "<prefix><kind>:<origin>" -> prefix, kind, origin (or nil, why)
local function split_key(key)
	local prefix, kind, origin = string.match(key, '^(.-)(%a+):([%w%._%-]+)$')
	if not prefix or not KINDS[kind] then
		return nil, 'not a list key <prefix>wl|bl|punch|valid:<origin>: ' .. key
	end
	if #prefix < 1 or #prefix > 32 or string.sub(prefix, -1) ~= ':' or
	    string.find(prefix, '[^%w_%-%.:]') then
		return nil, 'bad prefix in ' .. key
	end
	if #origin > 63 then
		return nil, 'origin longer than 63 characters'
	end
	return prefix, kind, origin
end

local function octets_ok(a, b, c, d)
	return a <= 255 and b <= 255 and c <= 255 and d <= 255
end

-- A CIDR in canonical form: a.b.c.d/len (or a bare address), host bits clear.
local function cidr_ok(s)
	local a, b, c, d, len = string.match(s, '^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$')
	if not a then
		a, b, c, d = string.match(s, '^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
		len = '32'
	end
	if not a then
		return false
	end
	a, b, c, d, len = tonumber(a), tonumber(b), tonumber(c), tonumber(d), tonumber(len)
	if not octets_ok(a, b, c, d) or len > 32 then
		return false
	end
	local addr = ((a * 256 + b) * 256 + c) * 256 + d
	local host = 2 ^ (32 - len)
	return addr % host == 0
end

local function endpoint_ok(s)
	local a, b, c, d, port = string.match(s, '^(%d+)%.(%d+)%.(%d+)%.(%d+):(%d+)$')
	if not a then
		return false
	end
	port = tonumber(port)
	return octets_ok(tonumber(a), tonumber(b), tonumber(c), tonumber(d)) and port >= 1 and
	    port <= 65535
end

-- "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2"
local function punch_ok(s)
	local proto, remote, bind, machine = string.match(s, '^(%a+) (%S+) (%S+) via (%S+)$')
	return proto and (proto == 'udp' or proto == 'tcp') and endpoint_ok(remote) and
	    endpoint_ok(bind) and cidr_ok(machine) and not string.find(machine, '/')
end

-- "udp 198.51.100.34 203.0.113.10:27015" (a client validated at a connection)
local function valid_ok(s)
	local proto, client, bind = string.match(s, '^(%a+) (%S+) (%S+)$')
	return proto == 'udp' and cidr_ok(client) and not string.find(client, '/') and
	    endpoint_ok(bind)
end

local function entry_ok(kind, e)
	if #e < 1 or #e > 96 then
		return false
	end
	if kind == 'punch' then
		return punch_ok(e)
	end
	if kind == 'valid' then
		return valid_ok(e)
	end
	return cidr_ok(e)
end

local function why_ok(w)
	return #w <= 64 and not string.find(w, '[%c ]')
end

local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The seq of a log's newest well-formed record (0: none). XADD trims by age
-- (MINID) but always after adding, so the newest record is never trimmed
-- away. A malformed record (garbage someone wrote into the log, which the
-- edges skip) does not set the seq: up to 16 of them are stepped over.
local function last_seq(log, kind)
	local recs = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 16)
	for _, rec in ipairs(recs) do
		local f, v = rec[2], {}
		for i = 1, #f - 1, 2 do
			v[f[i]] = f[i + 1]
		end
		local seq = tonumber(v.seq)
		if seq and seq >= 1 and seq == math.floor(seq) and (v.op == 'add' or v.op == 'del') and
		    v.entry and entry_ok(kind, v.entry) then
			return seq
		end
	end
	return 0
end

-- The event frame (docs/REDIS.md, "Event channel"): a msgpack map whose x is
-- nil for a permanent entry, which a Lua table cannot hold, so it is built
-- element by element.
local function frame(origin, kind, op, entry, exp, seq, why)
	local p = cmsgpack.pack
	local x = exp == '+inf' and '\192' or p(tonumber(exp))
	return '\136' .. p('t') .. p('entry') .. p('o') .. p(origin) .. p('k') .. p(kind) ..
	    p('op') .. p(op) .. p('e') .. p(entry) .. p('x') .. x .. p('s') .. p(seq) ..
	    p('w') .. p(why)
end

-- One change: ZADD/ZREM, then XADD with the next seq and the ZSET's member
-- count after it (`card`: the edges compare it with ZCARD to find writes
-- made without the log), then the event. exp is absolute Unix ms or '+inf'.
-- The log is trimmed by age (MINID) and by length (MAXLEN, approximate: whole
-- nodes); both keep the newest record, so the next seq is always known. A
-- reader whose cursor was trimmed away sees a seq gap and reads the ZSET.
-- Returns the seq, or raises with the reason.
local function write(key, op, entry, exp, why, now, retention, maxlen)
	local prefix, kind, origin = split_key(key)
	if not prefix then
		error(kind)
	end
	if not entry_ok(kind, entry) then
		error('malformed ' .. kind .. ' entry: ' .. entry)
	end
	if not why_ok(why) then
		error('why: at most 64 printable characters, no spaces')
	end
	local log = prefix .. 'log:' .. kind .. ':' .. origin
	local minid = tostring(now - retention) .. '-0'
	local seq = last_seq(log, kind) + 1
	if op == 'add' then
		if exp ~= '+inf' then
			local x = tonumber(exp)
			if not x or x ~= math.floor(x) or x <= now or x > now + MAX_TTL_MS then
				error('expiry must be in the future and at most ten years ahead')
			end
			exp = string.format('%d', x)
		end
		redis.call('ZADD', key, exp, entry)
		redis.call('XADD', log, 'MINID', '~', minid, '*', 'op', 'add', 'entry', entry,
			'exp', exp, 'seq', seq, 'why', why, 'card', redis.call('ZCARD', key))
	elseif op == 'del' then
		redis.call('ZREM', key, entry)
		redis.call('XADD', log, 'MINID', '~', minid, '*', 'op', 'del', 'entry', entry,
			'seq', seq, 'why', why, 'card', redis.call('ZCARD', key))
	else
		error('op must be add or del')
	end
	if maxlen > 0 then
		redis.call('XTRIM', log, 'MAXLEN', '~', maxlen)
	end
	redis.call('PUBLISH', prefix .. 'evt:' .. origin,
		frame(origin, kind, op, entry, exp, seq, why))
	return seq
end

-- Expired members out of a list, oldest first, at most limit of them: each
-- leaves as a `del` record with why `expired` (so `card` stays exact and the
-- peers, which expire it themselves, see the same list). An entry added again
-- before this runs has a new score and stays. Returns how many left.
local function prune(key, limit, now, retention, maxlen)
	local prefix, kind = split_key(key)
	if not prefix then
		error(kind)
	end
	limit = tonumber(limit)
	if not limit or limit < 1 or limit > 10000 or limit ~= math.floor(limit) then
		error('prune: LIMIT is a whole number from 1 to 10000')
	end
	local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit)
	for _, m in ipairs(gone) do
		if entry_ok(kind, m) then
			write(key, 'del', m, nil, 'expired', now, retention, maxlen)
		else
			redis.call('ZREM', key, m) -- garbage the edges skip: out without a record
		end
	end
	return #gone
end

-- The reason of a raised error, without Lua's "file:line:" prefix.
local function reason(err)
	if type(err) == 'table' and err.err then
		return err.err
	end
	return (string.gsub(tostring(err), '^.-:%d+: ', ''))
end

-- An operator's write: its seq, or the reason it was refused as an error reply.
-- Expired members of that list go first (bounded): ops lists have no daemon
-- of their own to prune them.
local function one(key, op, entry, exp, why, now)
	local ok, r = pcall(prune, key, PRUNE_LIMIT, now, RETENTION_MS, MAXLEN)
	if ok then
		ok, r = pcall(write, key, op, entry, exp, why or 'manual', now, RETENTION_MS, MAXLEN)
	end
	if not ok then
		return fail(reason(r))
	end
	return r
end

local function add(keys, args)
	if #keys ~= 1 or #args < 2 or #args > 3 then
		return fail('usage: FCALL bifrost_add 1 <list key> ENTRY TTL_MS [WHY]')
	end
	local ttl = tonumber(args[2])
	if not ttl or ttl < 0 or ttl ~= math.floor(ttl) or ttl > MAX_TTL_MS then
		return fail('TTL_MS: 0 (permanent) or a whole number of ms up to ten years')
	end
	local now = now_ms()
	local exp = ttl == 0 and '+inf' or string.format('%d', now + ttl)
	return one(keys[1], 'add', args[1], exp, args[3], now)
end

local function del(keys, args)
	if #keys ~= 1 or #args < 1 or #args > 2 then
		return fail('usage: FCALL bifrost_del 1 <list key> ENTRY [WHY]')
	end
	return one(keys[1], 'del', args[1], nil, args[2], now_ms())
end

local function prune_fn(keys, args)
	if #keys ~= 1 or #args > 1 then
		return fail('usage: FCALL bifrost_prune 1 <list key> [LIMIT 1-10000]')
	end
	local ok, r = pcall(prune, keys[1], args[1] or PRUNE_LIMIT, now_ms(), RETENTION_MS, MAXLEN)
	if not ok then
		return fail(reason(r))
	end
	return r
end

-- The edges' own writes, in order: each record's seq, or its error (a key of
-- the wrong type, a refused command): one refused record does not stop the
-- others. OP `prune` removes up to EXP expired members of that list (ENTRY
-- unused) and answers how many. A refusal before anything was written (out
-- of memory) fails the whole call, and the caller sends the batch again.
local function batch(keys, args)
	local retention, maxlen = tonumber(args[1]), tonumber(args[2])
	if not retention or not maxlen or maxlen < 0 or #args ~= 2 + 4 * #keys then
		return fail('usage: FCALL bifrost_batch N KEY... RETENTION_MS MAXLEN ' ..
			'(OP ENTRY EXP WHY)...')
	end
	local now, out = now_ms(), {}
	for i = 1, #keys do
		local j = 3 + 4 * (i - 1)
		local ok, r
		if args[j] == 'prune' then
			ok, r = pcall(prune, keys[i], args[j + 2], now, retention, maxlen)
		else
			ok, r = pcall(write, keys[i], args[j], args[j + 1], args[j + 2], args[j + 3],
				now, retention, maxlen)
		end
		out[i] = ok and r or { err = reason(r) }
	end
	return out
end

redis.register_function('bifrost_add', add)
redis.register_function('bifrost_del', del)
redis.register_function('bifrost_batch', batch)
redis.register_function('bifrost_prune', prune_fn)
