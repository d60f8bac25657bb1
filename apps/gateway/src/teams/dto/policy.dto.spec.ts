import { firstValidationProblem } from '@tokenhub/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { UpdateBudgetDto } from './budget.dto';
import { InlineBudgetDto, PolicyDto } from './policy.dto';

async function problem(cls: typeof InlineBudgetDto | typeof UpdateBudgetDto, body: object) {
  return firstValidationProblem(await validate(plainToInstance(cls, body)));
}

describe('USD amounts', () => {
  it.each([0, 5, 0.1, 1.234567, 1e12])('accepts %p', async (limit) => {
    expect(await problem(InlineBudgetDto, { period: 'daily', limit_usd: limit })).toBeNull();
    expect(await problem(UpdateBudgetDto, { limit_usd: limit })).toBeNull();
  });

  it.each([
    [5e-324, 'limit_usd must have at most 6 decimal places'],
    [1e-7, 'limit_usd must have at most 6 decimal places'],
    [0.1234567, 'limit_usd must have at most 6 decimal places'],
    [-1, 'limit_usd must not be less than 0'],
    [1e13, 'limit_usd must not be greater than 1000000000000'],
    ['5', 'limit_usd must be a number conforming to the specified constraints'],
    [null, 'limit_usd must be a number conforming to the specified constraints'],
  ])('refuses %p (numbers in exponent form no longer throw)', async (limit, message) => {
    expect(await problem(InlineBudgetDto, { period: 'daily', limit_usd: limit })).toEqual({ param: 'limit_usd', message });
    expect(await problem(UpdateBudgetDto, { limit_usd: limit })).toEqual({ param: 'limit_usd', message });
  });
});

describe('budgets', () => {
  it.each([[[[]]], [[[{ period: 'daily', limit_usd: 1 }]]], [['daily']], [[null]]])('refuses %j, not only objects, naming budgets', async (budgets) => {
    const found = firstValidationProblem(await validate(plainToInstance(PolicyDto, { budgets })));
    expect(found?.param).toBe('budgets');
  });

  it('accepts a list of budget objects', async () => {
    expect(firstValidationProblem(await validate(plainToInstance(PolicyDto, { budgets: [{ period: 'daily', limit_usd: 1 }] })))).toBeNull();
  });
});
