import { BoundedMap } from './bounded-map';

describe('BoundedMap', () => {
  it('starts over once full, and never holds more than its bound', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    map.set('a', 3);
    expect([...map]).toEqual([['a', 3], ['b', 2]]);
    map.set('c', 4);
    expect([...map]).toEqual([['c', 4]]);
  });
});
