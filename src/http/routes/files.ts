import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { finished } from 'node:stream/promises';
import { RocketError, invalidPayload } from '../../errors.js';
import { contentDisposition, servedMimeType } from '../../files/filename.js';
import { fileTooLarge, type StagedFile, type Upload } from '../../files/files.js';
import { type Area, appOf, callerOf, withAccess } from '../context.js';
import { unsupportedMediaType } from '../json-body.js';

declare module 'fastify' {
  // @fastify/multipart adds `multipartOptions` to the route config type, which makes it a weak type: name the
  // route config keys the error mapper reads (RouteMessages in ../errors.ts) so routes can still set them.
  interface FastifyContextConfig {
    invalidBody?: string;
    bodyType?: string;
  }
}

type ById = { Params: { id: string } };

const MISSING_FILE = 'Missing file in form data';
const MULTIPART = 'multipart/form-data';

/**
 * Room for the multipart framing and the (ignored) other form fields on top of
 * the file limit: a body declaring more than limit + this is refused as
 * FILE_TOO_LARGE before any of it is read.
 */
const FORM_OVERHEAD = 1024 * 1024;

/** Busboy limits: other fields are ignored, so they are kept small and few. */
const MULTIPART_LIMITS = { fileSize: Infinity, fieldSize: 8 * 1024, parts: 1000, headerPairs: 100 };

const isSystemError = (err: unknown) => typeof (err as NodeJS.ErrnoException)?.syscall === 'string';

/** /api/:app/_files (spec: files.md §Endpoints) */
export const filesArea: Area = async (area, { services }) => {
  const files = services.files;
  const limit = files.maxFileSize;

  /** A declared body length that cannot hold a file within the limit is refused before reading. */
  const declaredSize = async (request: FastifyRequest) => {
    const raw = request.headers['content-length'];
    const length = raw === undefined ? NaN : Number(raw);
    if (Number.isSafeInteger(length) && length > limit + FORM_OVERHEAD) throw fileTooLarge(length, limit);
  };

  async function upload(request: FastifyRequest): Promise<Upload> {
    if (!request.isMultipart()) {
      // A body of another type (JSON, text) is a 415 (README §Error codes), and so is one sent without a type, as
      // on every JSON route; no body at all has no file in it.
      const type = request.headers['content-type'];
      const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
      if (!request.raw.readableEnded) request.raw.resume();
      if (hasBody) throw unsupportedMediaType(type, MULTIPART);
      throw invalidPayload(MISSING_FILE);
    }
    const rocketApp = appOf(request);
    let staged: StagedFile | undefined;
    let tooLarge: RocketError | undefined;
    try {
      // Every part is read to the end, so the whole body is consumed before the answer.
      for await (const part of request.parts()) {
        if (part.type !== 'file') continue;
        if (part.fieldname !== 'file' || staged || tooLarge) {
          part.file.resume();
          await finished(part.file);
          continue;
        }
        try {
          staged = await files.stage(rocketApp, { filename: part.filename, mimeType: part.mimetype, stream: part.file });
        } catch (err) {
          if (!(err instanceof RocketError && err.code === 'FILE_TOO_LARGE')) throw err;
          tooLarge = err;
        }
      }
    } catch (err) {
      if (staged) await files.discard(staged).catch(() => undefined);
      if (tooLarge) throw tooLarge;
      if (err instanceof RocketError || isSystemError(err)) throw err;
      // Malformed or truncated multipart data, parser limits: the body is not a usable form.
      request.log.debug({ err }, 'multipart upload refused');
      throw invalidPayload(staged ? 'Invalid form data' : MISSING_FILE);
    } finally {
      if (!request.raw.readableEnded) request.raw.resume();
    }
    if (tooLarge) throw tooLarge;
    if (!staged) throw invalidPayload(MISSING_FILE);
    return files.commit(rocketApp, callerOf(request), staged);
  }

  // The upload route lives in its own scope: only it parses multipart, and it reads no other body type
  // (so no JSON body limit applies to it: the file limit is the only one).
  await withAccess(area, services, 'user', async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    await scope.register(multipart, { limits: MULTIPART_LIMITS, throwFileSizeLimit: false });
    scope.post('/upload', { onRequest: declaredSize, config: { bodyType: MULTIPART } }, async (request, reply) =>
      reply.status(201).send({ data: await upload(request) }),
    );
  });

  await withAccess(area, services, 'admin', (app) => {
    app.get('', async (request) => ({ data: await files.list(appOf(request)) }));
    app.delete<ById>('/:id', async (request) => ({ data: await files.delete(appOf(request), request.params.id) }));
  });

  await withAccess(area, services, 'user', (app) => {
    app.get<ById>('/:id', async (request, reply) => {
      const file = await files.open(appOf(request), request.params.id);
      return (
        reply
          .header('Content-Type', servedMimeType(file.row.mime_type))
          .header('Content-Length', file.size)
          .header('Content-Disposition', contentDisposition(file.row.filename))
          .header('X-Content-Type-Options', 'nosniff')
          // Uploaded HTML/SVG is shown inline but never runs script in the API's origin.
          .header('Content-Security-Policy', "default-src 'none'; sandbox")
          .send(file.stream)
      );
    });
  });
};
