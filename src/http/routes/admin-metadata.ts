import type { FastifyInstance } from 'fastify';
import * as meta from '../../metadata/admin.js';
import * as rules from '../../metadata/rules-admin.js';
import * as machines from '../../metadata/state-machines-admin.js';
import type { Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

/** /api/:app/_admin/entities, /relations, /rules and /state-machines. */
export async function adminMetadataRoutes(app: FastifyInstance, services: Services): Promise<void> {
  adminResourceRoutes(app, services, 'entities', {
    list: meta.listEntities,
    get: meta.getEntity,
    create: meta.createEntity,
    update: meta.updateEntity,
    remove: meta.deleteEntity,
  });
  adminResourceRoutes(app, services, 'relations', {
    list: meta.listRelations,
    get: meta.getRelation,
    create: meta.createRelation,
    update: meta.updateRelation,
    remove: meta.deleteRelation,
  });
  adminResourceRoutes(app, services, 'rules', {
    list: rules.listRules,
    get: rules.getRule,
    create: rules.createRule,
    update: rules.updateRule,
    remove: rules.deleteRule,
  });
  adminResourceRoutes(app, services, 'state-machines', {
    list: machines.listStateMachines,
    get: machines.getStateMachine,
    create: machines.createStateMachine,
    update: machines.updateStateMachine,
    remove: machines.deleteStateMachine,
  });
}
