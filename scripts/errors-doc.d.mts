import type { ErrorInfo } from '@gtr/contract';

export declare const DOC_PATH: string;
export declare function renderErrorsDoc(codes: Readonly<Record<string, ErrorInfo>>): string;
