/** A caller's request held for a shared call, with how to answer it. */
export interface Waiting<T, R> {
  input: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}
