// Bind parameters live with the database layer (db/params.ts), below the SQL module of metadata that uses them;
// this name stays for the realtime feed and subscription.
export { Params } from '../db/params.js';
