/**
 * The JSON body of every HTTP error: a stable code a program can switch on, a
 * sentence a person can read, and, for bad input, the field it is about.
 */
export interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly errors?: Array<{ path: string; message: string }>,
  ) {
    super(message);
  }

  body(): ApiErrorBody {
    return {
      error: this.code,
      message: this.message,
      ...(this.field !== undefined && { field: this.field }),
      ...(this.errors !== undefined && { errors: this.errors }),
    };
  }
}

export const notFound = (what: string, id: string) => new ApiError(404, 'not_found', `${what} ${id} does not exist`);
export const forbidden = (message = 'your role may not do this') => new ApiError(403, 'forbidden', message);
