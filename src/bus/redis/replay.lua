-- What a connection is owed on each of its channels, read at one moment where ids are
-- issued: expires old events and answers {epoch, head, parts}, head being the last
-- sequence number issued on any channel and each part {gap, start, entries after start,
-- last entry}. It creates no stream: a channel without one answers from where it stood
-- (see floor_of). Events after a channel's floor are all held; a cursor of this epoch
-- between that floor and head resumes cleanly.
-- KEYS: as in shared.lua, then one stream per channel from KEYS[6].
-- ARGV (after the shared two): mode (live|earliest|after|lost), cursor epoch, cursor seq,
-- expiry cutoff ms, ttl ms, most entries, then the channels from ARGV[9].
local epoch = current_epoch()
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local mode, cursor = ARGV[3], tonumber(ARGV[5])

local function expire(stream)
  while true do
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if not first then return end
    local fields, time = first[2], nil
    for i = 1, #fields, 2 do
      if fields[i] == 't' then time = tonumber(fields[i + 1]) end
    end
    if time >= tonumber(ARGV[6]) then return end
    redis.call('XDEL', stream, first[1])
  end
end

local function part(stream, channel)
  expire(stream)
  local floor = floor_of(channel)
  if redis.call('EXISTS', stream) == 1 then
    redis.call('PEXPIRE', stream, ARGV[7])
    local info = redis.call('XINFO', 'STREAM', stream)
    for i = 1, #info, 2 do
      if info[i] == 'max-deleted-entry-id' then floor = tonumber(string.match(info[i + 1], '^(%d+)')) end
    end
  end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if mode == 'live' then
    return {0, head, {}, last}
  end
  local gap, start = 0, floor
  if mode == 'after' and ARGV[4] == epoch and cursor >= floor and cursor <= head then
    start = cursor
  elseif mode ~= 'earliest' then
    gap = 1
  end
  return {gap, start, redis.call('XRANGE', stream, '(' .. start .. '-0', '+', 'COUNT', ARGV[8]), last}
end

local parts = {}
for i = 9, #ARGV do
  parts[#parts + 1] = part(KEYS[i - 3], ARGV[i])
end
return {epoch, head, parts}
