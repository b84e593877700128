-- What a subscriber is owed, decided where ids are issued: expires old events and answers
-- {epoch, gap, start, entries after start}. It creates no stream: a channel without
-- one answers from where it stood (see floor_of). Events after `floor` are all held; a
-- cursor of this epoch between floor and head resumes cleanly.
-- ARGV (after the shared two): mode (live|earliest|after|lost), cursor epoch, cursor seq,
-- expiry cutoff ms, ttl ms, most entries.
local epoch = current_epoch()
local stream = KEYS[3]
while true do
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not first then break end
  local fields, time = first[2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then time = tonumber(fields[i + 1]) end
  end
  if time >= tonumber(ARGV[6]) then break end
  redis.call('XDEL', stream, first[1])
end
local head, floor = tonumber(redis.call('GET', KEYS[2]) or '0'), floor_of(ARGV[2])
if redis.call('EXISTS', stream) == 1 then
  redis.call('PEXPIRE', stream, ARGV[7])
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then head = tonumber(string.match(info[i + 1], '^(%d+)')) end
    if info[i] == 'max-deleted-entry-id' then floor = tonumber(string.match(info[i + 1], '^(%d+)')) end
  end
end
local mode, cursor = ARGV[3], tonumber(ARGV[5])
if mode == 'live' then
  return {epoch, 0, head, {}}
end
local gap, start = 0, floor
if mode == 'after' and ARGV[4] == epoch and cursor >= floor and cursor <= head then
  start = cursor
elseif mode ~= 'earliest' then
  gap = 1
end
return {epoch, gap, start, redis.call('XRANGE', stream, '(' .. start .. '-0', '+', 'COUNT', ARGV[8])}
