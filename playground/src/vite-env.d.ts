// The playground is built by Vite: its client types declare what Vite imports (CSS as a side-effect
// import). TypeScript 7 checks side-effect imports by default and needs them.
/// <reference types="vite/client" />
