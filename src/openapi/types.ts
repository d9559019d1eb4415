/**
 * The slice of OpenAPI 3.1 the generator writes. Schemas are JSON Schema 2020-12 objects; they are
 * typed loosely on purpose (a JSON Schema is open-ended), everything around them is typed.
 */

export type Schema = { [keyword: string]: unknown };

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  description?: string;
  schema: Schema;
}

export type Ref = { $ref: string };

export interface MediaType {
  schema: Schema;
}

export interface RequestBody {
  required?: boolean;
  description?: string;
  content: Record<string, MediaType>;
}

export interface Response {
  description: string;
  headers?: Record<string, { description?: string; schema: Schema }>;
  content?: Record<string, MediaType>;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<Parameter | Ref>;
  requestBody?: RequestBody;
  responses: Record<string, Response | Ref>;
}

export type Method = 'get' | 'put' | 'post' | 'delete';
export type PathItem = { parameters?: Array<Parameter | Ref> } & { [M in Method]?: Operation };

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  servers: Array<{ url: string; description?: string }>;
  security: Array<Record<string, string[]>>;
  tags: Array<{ name: string; description?: string }>;
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, Response>;
    parameters: Record<string, Parameter>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; bearerFormat: string; description?: string }>;
  };
}

export const schemaRef = (name: string): Ref => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string): Ref => ({ $ref: `#/components/responses/${name}` });
export const parameterRef = (name: string): Ref => ({ $ref: `#/components/parameters/${name}` });

/** `{"data": <schema>}`, the success envelope. */
export function dataOf(schema: Schema): Schema {
  return { type: 'object', required: ['data'], properties: { data: schema } };
}

export function jsonBody(schema: Schema, description?: string): RequestBody {
  return { required: true, ...(description && { description }), content: { 'application/json': { schema } } };
}

export function jsonResponse(description: string, schema: Schema): Response {
  return { description, content: { 'application/json': { schema } } };
}
