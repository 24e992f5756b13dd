/** The version of this ops build (set by the bundler from package.json; `0.0.0-dev` when run from source). */
declare const OPS_VERSION: string;

export const version: string = typeof OPS_VERSION === 'string' ? OPS_VERSION : '0.0.0-dev';
