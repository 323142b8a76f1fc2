import * as cheerio from 'cheerio';
import type { CheerioAPI } from 'cheerio';
import { Parser } from 'htmlparser2';

/**
 * Elements of one page that are parsed at most; the rest of the document is not looked at. Far
 * above real pages (a long article has a few thousand), low enough that a hostile one cannot make
 * a parsing thread build a DOM of millions of nodes.
 */
export const PAGE_MAX_ELEMENTS = 50_000;

/** A bound on what one page may contribute to a result, and whether the page reached it. */
export interface PageCap {
  max: number;
  reached: boolean;
}

/**
 * The document as cheerio sees it, cut before its `maxElements + 1`-th element. A tokenizer pass
 * (no tree) finds where to cut, so the tree that is built never holds more than the cap.
 */
export function loadCapped(
  html: string,
  maxElements: number = PAGE_MAX_ELEMENTS,
): { $: CheerioAPI; elements: PageCap } {
  let count = 0;
  let cutAt = -1;
  const scanner = new Parser({
    onopentagname() {
      if (++count > maxElements && cutAt < 0) {
        cutAt = scanner.startIndex;
        scanner.pause();
      }
    },
  });
  scanner.write(html);
  const reached = cutAt >= 0;
  return {
    $: cheerio.load(reached ? html.slice(0, cutAt) : html),
    elements: { max: maxElements, reached },
  };
}
