-- What a subscriber is owed: expires old events, creates the channel if new (empty, at the
-- current position), and answers {head, floor, gap, start, entries after start}.
-- Events after `floor` are all held; a cursor between floor and head resumes cleanly.
-- KEYS: stream, sequence counter. ARGV: mode (live|earliest|after|lost), cursor seq,
-- expiry cutoff ms, ttl ms, most entries.
local stream = KEYS[1]
while true do
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not first then break end
  local fields, time = first[2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then time = tonumber(fields[i + 1]) end
  end
  if time >= tonumber(ARGV[3]) then break end
  redis.call('XDEL', stream, first[1])
end
if redis.call('EXISTS', stream) == 0 then
  local id = redis.call('INCR', KEYS[2]) .. '-0'
  redis.call('XADD', stream, id, 'e', '', 'd', '', 't', '0')
  redis.call('XDEL', stream, id)
end
redis.call('PEXPIRE', stream, ARGV[4])
local info = redis.call('XINFO', 'STREAM', stream)
local head, floor = 0, 0
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then head = tonumber(string.match(info[i + 1], '^(%d+)')) end
  if info[i] == 'max-deleted-entry-id' then floor = tonumber(string.match(info[i + 1], '^(%d+)')) end
end
local mode, cursor = ARGV[1], tonumber(ARGV[2])
if mode == 'live' then
  return {head, floor, 0, head, {}}
end
local gap, start = 0, floor
if mode == 'after' and cursor >= floor and cursor <= head then
  start = cursor
elseif mode ~= 'earliest' then
  gap = 1
end
return {head, floor, gap, start, redis.call('XRANGE', stream, '(' .. start .. '-0', '+', 'COUNT', ARGV[5])}
