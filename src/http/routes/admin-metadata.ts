import type { FastifyInstance } from 'fastify';
import * as meta from '../../metadata/admin.js';
import * as rules from '../../metadata/rules-admin.js';
import * as machines from '../../metadata/state-machines-admin.js';
import type { Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

/** Entities and relations are logged as their definitions (a GET answers the stored row around it). */
const definitionView = (x: unknown) => (x !== null && typeof x === 'object' && 'definition' in x && 'created_at' in x ? x.definition : x);

/** /api/:app/_admin/entities, /relations, /rules and /state-machines. */
export async function adminMetadataRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'entities',
    {
      list: meta.listEntities,
      get: meta.getEntity,
      create: meta.createEntity,
      update: meta.updateEntity,
      remove: meta.deleteEntity,
    },
    { collection: '_entities', view: definitionView },
    true, // a bigint or decimal field's default beyond a double's digits is kept exact
  );
  adminResourceRoutes(
    app,
    'relations',
    {
      list: meta.listRelations,
      get: meta.getRelation,
      create: meta.createRelation,
      update: meta.updateRelation,
      remove: meta.deleteRelation,
    },
    { collection: '_relations', view: definitionView },
  );
  adminResourceRoutes(
    app,
    'rules',
    {
      list: rules.listRules,
      get: rules.getRule,
      create: rules.createRule,
      update: rules.updateRule,
      remove: rules.deleteRule,
    },
    { collection: '_rules' },
    true, // thresholds beyond a double's digits (a bigint's max) are kept exact
  );
  adminResourceRoutes(
    app,
    'state-machines',
    {
      list: machines.listStateMachines,
      get: machines.getStateMachine,
      create: machines.createStateMachine,
      update: machines.updateStateMachine,
      remove: machines.deleteStateMachine,
    },
    { collection: '_state_machines' },
    true, // a set_field value beyond a double's digits (a bigint's) is kept exact
  );
}
