import type { ValidationError } from 'class-validator';

/** The first problem class-validator found, with its path as OpenAI names params (`messages[0].role`). */
export function firstValidationProblem(errors: ValidationError[], path = ''): { param: string; message: string } | null {
  for (const error of errors) {
    const here = /^\d+$/.test(error.property) ? `${path}[${error.property}]` : path ? `${path}.${error.property}` : error.property;
    if (error.constraints) {
      // class-validator runs a property's decorators nearest-first, so its constraints come in
      // reverse of how they read: the last is the first one written, by convention the type
      // check (`@IsString() @MaxLength(300)`), which is what a missing or mistyped value broke.
      const constraints = Object.values(error.constraints);
      const message = constraints[constraints.length - 1];
      // class-validator names only the leaf property; say where it is.
      return { param: here, message: here === error.property ? message : `${here}: ${message}` };
    }
    const nested = firstValidationProblem(error.children ?? [], here);
    if (nested) return nested;
  }
  return null;
}
