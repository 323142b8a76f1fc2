import * as cheerio from 'cheerio';
import type { CheerioAPI } from 'cheerio';
import { DomHandler } from 'domhandler';
import { Parser } from 'htmlparser2';
import type { PageCap } from '@crucible/contracts';

/**
 * Elements of one page that are parsed at most; the rest of the document is not looked at. Far
 * above real pages (a long article has a few thousand), low enough that a hostile one cannot make
 * a parsing thread build a DOM of millions of nodes.
 */
export const PAGE_MAX_ELEMENTS = 50_000;

/** A bound on what one page may contribute to a result, and whether the page reached it. */
export type { PageCap };

/**
 * Calls `onTag` for each start tag of the document, in order, up to its `maxElements`-th, without
 * building a tree: for what needs only tags and attributes (the resources a page references).
 */
export function scanTags(
  html: string,
  onTag: (name: string, attributes: Record<string, string>) => void,
  onClose: (name: string) => void = () => {},
  maxElements: number = PAGE_MAX_ELEMENTS,
): PageCap {
  let count = 0;
  const elements: PageCap = { max: maxElements, reached: false };
  const scanner = new Parser({
    onopentag(name, attributes) {
      if (elements.reached) return;
      if (++count > maxElements) {
        elements.reached = true;
        scanner.pause();
        return;
      }
      onTag(name, attributes);
    },
    onclosetag(name) {
      if (!elements.reached) onClose(name);
    },
  });
  scanner.write(html);
  scanner.end();
  return elements;
}

/** A tree builder that stops the parser at the first element past the cap. */
class CappedDomHandler extends DomHandler {
  #parser: Parser | undefined;
  #count = 0;
  readonly cap: PageCap;

  constructor(maxElements: number) {
    super();
    this.cap = { max: maxElements, reached: false };
  }

  override onopentag(name: string, attributes: Record<string, string>): void {
    if (this.cap.reached) return;
    if (++this.#count > this.cap.max) {
      this.cap.reached = true;
      this.#parser!.pause();
      return;
    }
    super.onopentag(name, attributes);
  }

  override onparserinit(parser: Parser): void {
    super.onparserinit(parser);
    this.#parser = parser;
  }
}

/**
 * The document as cheerio sees it, cut before its `maxElements + 1`-th element: the tree is built
 * by htmlparser2 (several times faster than cheerio's default parse5 on large pages) in one pass
 * that stops at the cap, so it never holds more.
 */
export function loadCapped(
  html: string,
  maxElements: number = PAGE_MAX_ELEMENTS,
): { $: CheerioAPI; elements: PageCap } {
  const handler = new CappedDomHandler(maxElements);
  const parser = new Parser(handler);
  parser.write(html);
  if (!handler.cap.reached) parser.end();
  return { $: cheerio.load(handler.root), elements: handler.cap };
}
