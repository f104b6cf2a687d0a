declare module 'node-gyp-build' {
  function load(dir: string): unknown;
  namespace load {
    /** The addon file load() would open; throws "No native build was found ..." where none fits. Absent in webpack builds. */
    const path: ((dir: string) => string) | undefined;
  }
  export = load;
}
