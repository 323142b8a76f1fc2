// Entry of a parsing thread (ParserPool): every parse of a document, stylesheet or JSON body an
// engine gets from a target runs here, never on the worker's event loop.
import { selectJson } from './json-select.js';
import type { JsonSelection } from './json-select.js';
import { mixedContent } from './mixed-content.js';
import type { MixedContent } from './mixed-content.js';
import { fontUrls, referencedResources } from './page-resources.js';
import type { PageResources } from './page-resources.js';
import { analyzeHtml } from './seo-page.js';
import type { SeoPageAnalysis } from './seo-page.js';

/** What a parsing thread is asked to do; URLs travel as strings (a `URL` does not cross threads). */
export type ParseTask =
  | { kind: 'seo-page'; html: string; url: string }
  | { kind: 'page-resources'; html: string; url: string }
  | { kind: 'stylesheet-fonts'; css: string; url: string }
  | { kind: 'mixed-content'; html: string; url: string }
  | { kind: 'json-select'; text: string; paths: string[] };

export interface ParseResults {
  'seo-page': SeoPageAnalysis;
  'page-resources': PageResources;
  'stylesheet-fonts': string[];
  'mixed-content': MixedContent;
  'json-select': JsonSelection;
}

export default function parse(task: ParseTask): ParseResults[ParseTask['kind']] {
  switch (task.kind) {
    case 'seo-page':
      return analyzeHtml(task.html, task.url);
    case 'page-resources':
      return referencedResources(task.html, task.url);
    case 'stylesheet-fonts':
      return fontUrls(task.css, task.url);
    case 'mixed-content':
      return mixedContent(task.html, task.url);
    case 'json-select':
      return selectJson(task.text, task.paths);
  }
}
