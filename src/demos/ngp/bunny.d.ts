// npm `bunny` (CommonJS, no types): the Stanford bunny as vertex positions and triangle cells.
declare module 'bunny' {
  export const positions: [number, number, number][];
  export const cells: [number, number, number][];
  const bunny: { positions: [number, number, number][]; cells: [number, number, number][] };
  export default bunny;
}
