import './app/suite-app.ts';
