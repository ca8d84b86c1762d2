// The accepted formats are part of the contract (clients check files against them too).
export {
  checkVideoFormat,
  extensionOf,
  type FormatVerdict,
  STREAMING_EXTENSIONS,
  VIDEO_EXTENSIONS,
} from '@gtr/contract';
