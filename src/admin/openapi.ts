import { successStatuses, type RouteDef } from './route';
import { CSRF_HEADER, SESSION_COOKIE } from '../services/sessions';

/** The OpenAPI document, derived from the route table so it grows with every route. */
export function openApiDocument(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const pathParams = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams = (route.query ?? []).map((q) => ({ name: q.name, in: 'query', required: q.required === true, description: q.description, schema: { type: q.type ?? 'string' } }));
    const operation: Record<string, unknown> = {
      operationId: route.name,
      summary: route.summary,
      'x-required-role': route.access,
      parameters: [...pathParams, ...queryParams],
      responses: {
        ...Object.fromEntries(successStatuses(route).map((status) => [String(status), { description: route.responses?.[status] ?? 'OK' }])),
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (route.access !== 'public') operation.security = [{ bearer: [] }, { basic: [] }, { session: [] }];
    if (route.body) {
      // A `(body)` doc is the whole body (a document of its own), never a required property.
      const required = route.body.filter((b) => b.required === true && !b.name.startsWith('(')).map((b) => b.name);
      operation.requestBody = {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              ...(required.length > 0 ? { required } : {}),
              properties: Object.fromEntries(route.body.map((b) => [b.name, { description: b.description }])),
            },
          },
        },
      };
    }
    paths[`/-/gatekeeper/v1${path}`] = { ...(paths[`/-/gatekeeper/v1${path}`] ?? {}), [route.method]: operation };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'npm-gatekeeper admin API', version },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: "an npm token issued by this registry ('npm login'), or a service account's token" },
        basic: { type: 'http', scheme: 'basic', description: "a user's name and password (login attempts are throttled)" },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `the web console's session (POST /session; __Host-${SESSION_COOKIE} over HTTPS); a call other than GET or HEAD also sends the session's CSRF token in the ${CSRF_HEADER} header`,
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'code'],
          properties: {
            error: { type: 'string', example: '[EBANNED] lodash@4.17.20 is banned: CVE-2021-23337' },
            code: { type: 'string', example: 'EBANNED' },
            details: { type: 'object' },
          },
        },
      },
    },
    paths,
  };
}
