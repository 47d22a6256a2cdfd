// Public types of xypriss, generated from the TypeScript sources (lib/) into dist/.
// The package is CommonJS (`module.exports = express`), hence `export =`.
import xypriss from './dist/index'
export = xypriss
