--[[
  Moves every later slot of the shared pace past a wait (a 429's).

  Input:
    KEYS[1] the next free slot (epoch ms)

    ARGV[1] the wait (ms)

  Output:
    the wait (ms)
]]
--- @include "includes/now-ms"

local now = nowMs()
local resume = now + tonumber(ARGV[1])
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if resume > next then redis.call('SET', KEYS[1], resume, 'PX', tonumber(ARGV[1]) + 600000) end
return resume - now
