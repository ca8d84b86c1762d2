--[[
  Shared by the job scripts. A search entry is `word \0 inverted-seq \0 id` in one sorted set
  whose scores are all 0: a word's jobs are then a lexicographic range, newest first, and a
  prefix's words are a range too. A batch's counts move with its jobs; `settle` keeps its
  `finished_at` (and its place in the finished index) true to them.

  `schema` is the job schema every job script takes as ARGV[1] (JSON, see JOB_SCHEMA in
  lua-scripts.ts): max_seq, states (JOB_STATES in order), open (those not final), final,
  kinds (JOB_KINDS in order).
]]

-- Whole numbers as Redis takes them: never "-0" or "1e+15".
local function int(n)
  return string.format('%d', n)
end

local function member(schema, word, seq, id)
  return word .. '\0' .. string.format('%012d', schema.max_seq - tonumber(seq)) .. '\0' .. id
end

-- The batch id a job hash names ('' for none).
local function batchOf(job)
  local raw = redis.call('HGET', job, 'batch')
  local bid = raw and cjson.decode(raw)
  if type(bid) ~= 'string' then return '' end
  return bid
end

-- name -> position + offset, for a list of names (the KEYS of one index per state or kind).
local function positions(names, offset)
  local out = {}
  for i, name in ipairs(names) do out[name] = i + offset end
  return out
end

local function settle(schema, key, bid, now, finished)
  local open = 0
  for _, s in ipairs(schema.open) do
    open = open + (tonumber(redis.call('HGET', key, 'n:' .. s)) or 0)
  end
  if open > 0 then
    redis.call('HDEL', key, 'finished_at')
    redis.call('ZREM', finished, bid)
  elseif (tonumber(redis.call('HGET', key, 'total')) or 0) > 0 then
    redis.call('HSETNX', key, 'finished_at', now)
    redis.call('ZADD', finished, redis.call('HGET', key, 'finished_at'), bid)
  else
    redis.call('HDEL', key, 'finished_at')
    redis.call('ZADD', finished, now, bid)
  end
end
