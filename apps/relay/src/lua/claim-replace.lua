--[[
  Takes an import claim over from the job the caller saw holding it, so two requests replacing a
  canceled job make one job.

  Input:
    KEYS[1] the claim

    ARGV[1] the new job's id
    ARGV[2] the job the caller saw holding it
    ARGV[3] the lease (ms) until the new job settles it

  Output:
    1 - taken
    0 - someone else holds it now
]]

if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
