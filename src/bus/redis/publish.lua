-- Appends one event to a channel's stream and announces it to every node, atomically,
-- so stream order, id order and announcement order are the same. Answers {epoch, seq,
-- 0}, or {epoch, the end's seq, 1} when the channel has ended.
-- ARGV (after the shared two): max length, type, data, time ms, ttl ms, announce
-- channel, most channels whose last sequence number is recorded, the node's epoch and
-- the highest sequence number it has seen in it.
local epoch = current_epoch()
if epoch == ARGV[10] and tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[11]) then
  -- The sequence went back within the epoch (a failover to a replica that lagged): ids
  -- already issued would be issued again, so a new epoch starts past them.
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[2], ARGV[11])
end
local stream, channel = KEYS[3], ARGV[2]
-- A channel that ended takes nothing more: answer with its end, flagged.
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if newest then
  local fields = newest[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'e' and fields[i + 1] == 'comet-end' then
      return {epoch, tonumber(string.match(newest[1], '^(%d+)')), 1}
    end
  end
end
local fresh = redis.call('EXISTS', stream) == 0
local seq = redis.call('INCR', KEYS[2])
local id = seq .. '-0'
redis.call('XADD', stream, id, 'e', ARGV[4], 'd', ARGV[5], 't', ARGV[6])
if fresh then
  -- A new stream starts where the channel stood when its last stream expired.
  redis.call('XSETID', stream, id, 'MAXDELETEDID', floor_of(channel) .. '-0')
end
-- Evict with XDEL rather than MAXLEN: only XDEL records max-deleted-entry-id, the
-- position below which subscribers are told they missed events.
local excess = redis.call('XLEN', stream) - tonumber(ARGV[3])
if excess > 0 then
  for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)) do
    redis.call('XDEL', stream, entry[1])
  end
end
redis.call('PEXPIRE', stream, ARGV[7])
-- The last sequence number of the newest channels outlives their streams; the oldest
-- are forgotten first, into the watermark.
redis.call('ZADD', KEYS[4], seq, channel)
local forget = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[9])
if forget > 0 then
  local gone = redis.call('ZRANGE', KEYS[4], 0, forget - 1, 'WITHSCORES')
  local highest = tonumber(gone[#gone])
  if highest > tonumber(redis.call('GET', KEYS[5]) or '0') then redis.call('SET', KEYS[5], highest) end
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, forget - 1)
end
redis.call('PUBLISH', ARGV[8], channel .. '\n' .. epoch .. '\n' .. seq .. '\n' .. ARGV[6] .. '\n' .. ARGV[4] .. '\n' .. ARGV[5])
return {epoch, seq, 0}
