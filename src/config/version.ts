/** The product's version, from package.json: the banner, `postern --version`, and milters' `v` macro. */
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
