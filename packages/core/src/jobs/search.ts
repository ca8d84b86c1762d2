// How jobs are found by `q` is the contract's (the dashboard applies it to live updates too).
export {
  jobWords,
  MAX_WORD_LENGTH,
  MAX_WORDS_PER_JOB,
  matchesWords,
  type Searchable,
  searchWords,
} from '@gtr/contract';
