--[[
  Holds a place for a new upload when the owner's limits allow it (also when it already holds
  one); the uploads it replaces (a final upload's partials) are not counted against the limits.

  Input:
    KEYS[1] the quota entries (hash: upload id -> entry)
    KEYS[2] the count of each owner's entries (hash)
    KEYS[3] the bytes of each owner's entries (hash)

    ARGV[1] upload id
    ARGV[2] owner
    ARGV[3] bytes (a decimal string; 0 for a deferred length)
    ARGV[4] the most open uploads (0: no limit)
    ARGV[5] the most open bytes (0: no limit)
    ARGV[6] now (epoch ms)
    ARGV[7 ..] the ids of the uploads it replaces

  Output:
    {1, count, bytes}  - held, with the owner's totals after it
    {-1, count, bytes} - the uploads limit refuses it (the owner's totals before it)
    {-2, count, bytes} - the bytes limit refuses it
]]
--- @include "includes/quota-entries"

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1, held(ARGV[2])} end
local owner = ARGV[2]
local size = tonumber(ARGV[3])
local count, bytes = held(owner)
local creditCount, creditBytes = 0, 0
for i = 7, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local entry = cjson.decode(raw)
    if entry.o == owner then
      creditCount = creditCount + 1
      creditBytes = creditBytes + tonumber(entry.b)
    end
  end
end
local maxUploads, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5])
if maxUploads > 0 and count - creditCount + 1 > maxUploads then return {-1, count, bytes} end
if maxBytes > 0 and bytes - creditBytes + size > maxBytes then return {-2, count, bytes} end
add(ARGV[1], owner, ARGV[3], ARGV[6])
return {1, count + 1, bytes + size}
