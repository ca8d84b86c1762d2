--[[
  Makes an import claim's lease permanent (its job exists now); re-takes the key if the lease
  ran out meanwhile and nobody took it.

  Input:
    KEYS[1] the claim

    ARGV[1] the job's id

  Output:
    1 - settled
    0 - another job holds it
]]

local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
