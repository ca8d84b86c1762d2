--[[
  Remembers which job follows a Gcore video; the video id becomes one of the job's search words.

  Input:
    KEYS[1] the video index (hash: video id -> job id)
    KEYS[2] the job hash
    KEYS[3] the search index

    ARGV[1] the job schema (JSON)
    ARGV[2] video id
    ARGV[3] job id

  Output:
    1 - indexed
    0 - the video is indexed, but the job does not exist (no search word)
]]
--- @include "includes/job-helpers"

redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local seq = redis.call('HGET', KEYS[2], 'seq')
if not seq then return 0 end
local words = cjson.decode(redis.call('HGET', KEYS[2], 'search') or '[]')
if type(words) ~= 'table' then words = {} end
for _, w in ipairs(words) do
  if w == ARGV[2] then return 1 end
end
words[#words + 1] = ARGV[2]
redis.call('HSET', KEYS[2], 'search', cjson.encode(words))
redis.call('ZADD', KEYS[3], 0, member(cjson.decode(ARGV[1]), ARGV[2], seq, ARGV[3]))
return 1
