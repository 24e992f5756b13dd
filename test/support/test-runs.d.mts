export declare const SNAPSHOTS: string;
export declare function testRunId(): string;
export declare function runSnapshots(run: string): string[];
export declare function staleTestSnapshots(): string[];
export declare function removeSnapshots(root: string, list: readonly string[]): void;
