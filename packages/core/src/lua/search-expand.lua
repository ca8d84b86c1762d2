--[[
  The distinct indexed words that begin with a prefix, at most a number of them, in order: one
  O(log n) step per word however many jobs each has.

  Input:
    KEYS[1] the search index

    ARGV[1] the prefix
    ARGV[2] the most words to answer

  Output:
    the words, in lexicographic order
]]

local out = {}
local min = '[' .. ARGV[1]
local max = '[' .. ARGV[1] .. '\255'
for _ = 1, tonumber(ARGV[2]) do
  local m = redis.call('ZRANGEBYLEX', KEYS[1], min, max, 'LIMIT', 0, 1)[1]
  if not m then break end
  local word = string.sub(m, 1, string.find(m, '\0', 1, true) - 1)
  out[#out + 1] = word
  min = '(' .. word .. '\0\255'
end
return out
