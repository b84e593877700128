-- Shared by publish.lua and replay.lua, which run after it as one script.
-- KEYS: epoch, sequence counter, stream, last sequence numbers (sorted set), watermark.
-- ARGV: a new epoch (used only if the epoch key is gone), channel, then the script's own.

-- The epoch. When its key is gone, Redis lost its data (flushed, restarted without
-- persistence): the sequence starts again, so a new epoch starts with it and every
-- cursor of the old one is told of a gap. The first node to notice sets it; the others
-- read it back from every script's answer.
local function current_epoch()
  local epoch = redis.call('GET', KEYS[1])
  if epoch then return epoch end
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end

-- Where a channel without a stream stands: events up to here may be lost. Its last
-- sequence number if still recorded, else the highest of those forgotten.
local function floor_of(channel)
  local last = redis.call('ZSCORE', KEYS[4], channel)
  if last then return tonumber(last) end
  return tonumber(redis.call('GET', KEYS[5]) or '0')
end
