// binary-parser ships its types beside the CommonJS build only; NodeNext resolution of the ESM entry finds
// none, so point the ESM import at those same declarations.
declare module 'binary-parser' {
  export * from 'binary-parser/dist/binary_parser.js';
}
