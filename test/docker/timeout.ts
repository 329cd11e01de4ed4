// Image builds and container starts on the vfs storage driver take minutes.
jest.setTimeout(15 * 60_000);
