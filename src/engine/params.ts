// Bind parameters live with the database layer, below the SQL module of metadata that builds statements with them.
export { Params } from '../db/params.js';
