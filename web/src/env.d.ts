// Single-file components as modules, for tools that read .ts files without
// Vue's own language service (vue-tsc sees the real component types).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent;
  export default component;
}
