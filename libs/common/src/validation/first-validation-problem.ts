import type { ValidationError } from 'class-validator';

/** The first problem class-validator found, with its path as OpenAI names params (`messages[0].role`). */
export function firstValidationProblem(errors: ValidationError[], path = ''): { param: string; message: string } | null {
  for (const error of errors) {
    const here = /^\d+$/.test(error.property) ? `${path}[${error.property}]` : path ? `${path}.${error.property}` : error.property;
    if (error.constraints) {
      const message = Object.values(error.constraints)[0];
      // class-validator names only the leaf property; say where it is.
      return { param: here, message: here === error.property ? message : `${here}: ${message}` };
    }
    const nested = firstValidationProblem(error.children ?? [], here);
    if (nested) return nested;
  }
  return null;
}
