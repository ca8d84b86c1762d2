// Shared Gcore calls: creates gathered into batch calls, status lookups into list calls.

export { CreateBatcher, type CreateBatcherOptions, matchBatchAnswer } from './batching/create-batcher.js';
export { StatusBoard, type StatusBoardOptions } from './batching/status-board.js';
