-- Appends one event to a channel's stream and announces it to every node, atomically,
-- so stream order, id order and announcement order are the same.
-- KEYS: stream, sequence counter. ARGV: max length, type, data, time ms, ttl ms, channel, announce channel.
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local seq = redis.call('INCR', KEYS[2])
local id = seq .. '-0'
redis.call('XADD', KEYS[1], id, 'e', ARGV[2], 'd', ARGV[3], 't', ARGV[4])
if fresh then
  -- A new stream knows nothing of what came before it: events up to here count as lost.
  redis.call('XSETID', KEYS[1], id, 'MAXDELETEDID', (seq - 1) .. '-0')
end
-- Evict with XDEL rather than MAXLEN: only XDEL records max-deleted-entry-id, the
-- position below which subscribers are told they missed events.
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[7], ARGV[6] .. '\n' .. seq .. '\n' .. ARGV[4] .. '\n' .. ARGV[2] .. '\n' .. ARGV[3])
return seq
