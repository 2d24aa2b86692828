// One load per key per thread (ONNX sessions, plans): concurrent callers share the pending promise;
// a load that fails is forgotten, so the next caller tries again.
export class PromiseCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.entries.get(key);
    if (!p) {
      p = load();
      p.catch(() => this.entries.delete(key));
      this.entries.set(key, p);
    }
    return p;
  }
}
