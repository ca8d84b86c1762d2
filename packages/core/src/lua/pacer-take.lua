--[[
  Takes the next free slot of the shared pace: one "next free slot" timestamp, advanced by the
  interval for each request, so requests are spaced evenly across every process and no sliding
  one-second window ever holds more than the ceiling.

  Input:
    KEYS[1] the next free slot (epoch ms)

    ARGV[1] the interval between two requests (ms)

  Output:
    how long the slot taken is ahead of now (ms)
]]
--- @include "includes/now-ms"

local now = nowMs()
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, next)
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 600000)
return slot - now
