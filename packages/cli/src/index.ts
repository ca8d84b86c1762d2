export {
  type BatchRejection,
  type BatchResult,
  type ImportItem,
  type JobPage,
  type ListJobsQuery,
  RelayClient,
  type RelayClientOptions,
  RelayError,
  type RelayErrorKind,
} from './api.js';
export { COMMANDS, generalUsage, runCli } from './cli.js';
export type { Command } from './commands/command.js';
export { BATCH_LIMIT, BATCH_SIZE } from './commands/import.js';
export { DEFAULT_CHUNK_SIZE, jobIdOf, uploadCommand } from './commands/upload.js';
export { type FollowOptions, type FollowResult, followJobs } from './follow.js';
export { formatAge, formatBytes, formatDuration, renderTable } from './format.js';
export { CliError, type CliIo, EXIT, UsageError, type Writer } from './io.js';
export { type ListEntry, type ListProblem, type ParsedList, parseList } from './list-file.js';
export { guessVideoType } from './media-types.js';
export { createProgress, type Progress } from './progress.js';
export {
  createS3Client,
  listVideos,
  parseS3Url,
  presignGet,
  type S3Listing,
  type S3Location,
  type S3Settings,
  type S3Video,
  titleOf,
} from './s3.js';
export { DEFAULT_RELAY_URL, type RelayTarget, resolveTarget } from './target.js';
export { defaultUploadStorePath, FileUploadStore } from './upload-store.js';
