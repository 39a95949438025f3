/** Entry of the dashboards: one single-page app for every role (see app.tsx). */
import { render } from 'preact';
import { App } from './app';
import './styles.css';

render(<App />, document.getElementById('app')!);
