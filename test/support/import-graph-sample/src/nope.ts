export const nope = 1;
