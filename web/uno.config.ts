import carbon from '@iconify-json/carbon/icons.json' with { type: 'json' };
import { defineConfig, presetIcons, presetWind3 } from 'unocss';

// A compact reset (after Tailwind's preflight): presetWind3 ships none and @unocss/reset is not
// installed. System fonts only: nothing loads from a CDN, no web fonts.
const RESET = `
*,::before,::after{box-sizing:border-box;border-width:0;border-style:solid;border-color:#e5e7eb}
html{line-height:1.5;-webkit-text-size-adjust:100%;tab-size:4;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif}
body{margin:0;line-height:inherit}
h1,h2,h3,h4,h5,h6{font-size:inherit;font-weight:inherit;margin:0}
p,dl,dd,pre,figure,blockquote,fieldset,legend{margin:0}
fieldset,legend{padding:0}
ol,ul,menu{list-style:none;margin:0;padding:0}
a{color:inherit;text-decoration:inherit}
b,strong{font-weight:bolder}
code,kbd,samp,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:1em}
table{text-indent:0;border-color:inherit;border-collapse:collapse}
button,input,optgroup,select,textarea{font-family:inherit;font-size:100%;font-weight:inherit;line-height:inherit;color:inherit;margin:0;padding:0}
button,select{text-transform:none}
button,[type='button'],[type='reset'],[type='submit']{-webkit-appearance:button;background-color:transparent;background-image:none}
button,[role="button"]{cursor:pointer}
:disabled{cursor:default}
textarea{resize:vertical}
input::placeholder,textarea::placeholder{opacity:1;color:#9ca3af}
img,svg,video,canvas{display:block;vertical-align:middle}
[hidden]{display:none}
`;

// Icons come from the local @iconify-json/carbon set: nothing loads from a CDN.
export default defineConfig({
  preflights: [{ getCSS: () => RESET }],
  presets: [
    presetWind3({ dark: 'class' }),
    presetIcons({ collections: { carbon: () => carbon as never }, scale: 1.1, warn: true }),
  ],
  shortcuts: {
    btn: 'inline-flex items-center gap-1 px-3 py-1.5 rounded text-sm font-medium border border-transparent cursor-pointer disabled:opacity-50 disabled:cursor-not-allowed focus-visible:outline-2 focus-visible:outline-blue-500 focus-visible:outline-offset-2',
    'btn-primary': 'btn bg-blue-600 text-white hover:bg-blue-700',
    'btn-ghost':
      'btn bg-transparent text-gray-700 dark:text-gray-200 border-gray-300 dark:border-gray-600 hover:bg-gray-100 dark:hover:bg-gray-800',
    'btn-danger': 'btn bg-red-600 text-white hover:bg-red-700',
    'btn-icon':
      'inline-flex items-center justify-center w-8 h-8 rounded text-gray-600 dark:text-gray-300 hover:bg-gray-100 dark:hover:bg-gray-800 cursor-pointer focus-visible:outline-2 focus-visible:outline-blue-500',
    card: 'rounded-lg border border-gray-200 dark:border-gray-700 bg-white dark:bg-gray-900 p-4',
    input:
      'w-full px-3 py-2 rounded border border-gray-300 dark:border-gray-600 bg-white dark:bg-gray-800 text-sm focus:outline-2 focus:outline-blue-500 aria-[invalid=true]:border-red-500',
    label: 'block text-sm font-medium mb-1',
    'field-error': 'text-xs text-red-600 dark:text-red-400 mt-1',
    badge: 'inline-block px-2 py-0.5 rounded text-xs font-medium',
    th: 'text-left px-3 py-2 text-xs font-semibold text-gray-500 dark:text-gray-400 uppercase whitespace-nowrap',
    td: 'px-3 py-2 text-sm border-t border-gray-100 dark:border-gray-800 whitespace-nowrap',
  },
});
