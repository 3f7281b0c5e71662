import { createRouter, createWebHistory } from 'vue-router';
import type { Action } from '@protocol';
import { onUnauthorized } from './console/api';
import { useAuthStore } from './console/auth';
import { readToken } from './console/invitation';
import HomeView from './views/HomeView.vue';

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page's role name, shown in the header. */
    titleKey: string;
    /** The page runs a session client (the header shows its connection). */
    session?: boolean;
    /** An operator console page: needs a signed-in operator. */
    console?: boolean;
    /** What the signed-in account must be allowed to do to open the page (protocol/roles.ts). */
    action?: Action;
    /** An operator's invitation link (`?token=…`) opens the page without a sign-in: the token is the credential. */
    invitation?: boolean;
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: HomeView, meta: { titleKey: 'page.home' } },
    {
      path: '/studio',
      name: 'studio',
      component: () => import('./views/StudioView.vue'),
      meta: { titleKey: 'page.studio', session: true },
    },
    {
      path: '/point',
      name: 'point',
      component: () => import('./views/PointView.vue'),
      meta: { titleKey: 'page.point', session: true },
    },
    // Operator invitation links of the older form (/operator?token=…): the control room of the token's session.
    {
      path: '/operator',
      redirect: (to) => {
        const token = typeof to.query.token === 'string' ? to.query.token : '';
        const sid = token ? readToken(token)?.sid : undefined;
        return sid && sid !== '*' ? { name: 'console-live', params: { sid }, query: { token } } : { name: 'console' };
      },
    },
    {
      path: '/watch',
      name: 'watch-list',
      component: () => import('./views/WatchListView.vue'),
      meta: { titleKey: 'page.watch' },
    },
    {
      path: '/watch/:sid',
      name: 'watch',
      component: () => import('./views/WatchView.vue'),
      meta: { titleKey: 'page.watch' },
    },
    {
      path: '/console/sign-in',
      name: 'console-sign-in',
      component: () => import('./console/views/SignInView.vue'),
      meta: { titleKey: 'page.console' },
    },
    {
      path: '/console',
      component: () => import('./console/ConsoleLayout.vue'),
      meta: { titleKey: 'page.console', console: true },
      children: [
        {
          path: '',
          name: 'console',
          component: () => import('./console/views/DashboardView.vue'),
          meta: { titleKey: 'page.console', console: true },
        },
        {
          path: 'points',
          name: 'console-points',
          component: () => import('./console/views/PointsView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'session.create' },
        },
        {
          path: 'schedule',
          name: 'console-schedule',
          component: () => import('./console/views/ScheduleView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'schedule.view' },
        },
        {
          path: 'sessions/new',
          name: 'console-session-new',
          component: () => import('./console/views/SessionEditorView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'session.create' },
        },
        {
          path: 'sessions/:sid',
          name: 'console-session',
          component: () => import('./console/views/SessionEditorView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'session.create' },
        },
        {
          path: 'sessions/:sid/live',
          name: 'console-live',
          component: () => import('./console/views/ControlRoomView.vue'),
          meta: { titleKey: 'page.controlRoom', console: true, session: true, invitation: true },
        },
        {
          path: 'audit',
          name: 'console-audit',
          component: () => import('./console/views/AuditView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'session.monitor' },
        },
        {
          path: 'accounts',
          name: 'console-accounts',
          component: () => import('./console/views/AccountsView.vue'),
          meta: { titleKey: 'page.console', console: true, action: 'accounts.manage' },
        },
      ],
    },
    // Short invitation links: /join/<token>
    { path: '/join/:token', redirect: (to) => ({ path: '/point', query: { token: String(to.params.token) } }) },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
});

// Console pages need a signed-in operator (or, for the control room, an operator's invitation link);
// without one, the sign-in page (and back after it).
// A page the account's role may not use (an observer on the editor) leads to the overview instead.
router.beforeEach(async (to) => {
  if (!to.meta.console) return true;
  const token = typeof to.query.token === 'string' ? to.query.token : '';
  if (to.meta.invitation && token) {
    // The server checks the token on every request. Only an operator's opens the control room
    // (it sends no media); the hall's or a point's link leads to its own page, which does.
    const role = readToken(token)?.role;
    if (role === 'studio') return { name: 'studio', query: { token } };
    if (role === 'point' || role === 'viewer') return { name: 'point', query: { token } };
    return true;
  }
  const auth = useAuthStore();
  const operator = await auth.ensure().catch(() => null);
  if (!operator) return { name: 'console-sign-in', query: { next: to.fullPath } };
  return !to.meta.action || auth.may(to.meta.action) ? true : { name: 'console' };
});

// The sign-in expired while a console page was open: sign in again and come back.
onUnauthorized(() => {
  const current = router.currentRoute.value;
  if (!current.meta.console) return;
  useAuthStore().forget();
  void router.push({ name: 'console-sign-in', query: { next: current.fullPath } });
});
