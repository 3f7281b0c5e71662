import { createRouter, createWebHistory } from 'vue-router';
import HomeView from './views/HomeView.vue';

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page's role name, shown in the header. */
    titleKey: string;
    /** The page runs a session client (the header shows its connection). */
    session?: boolean;
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
    {
      path: '/operator',
      name: 'operator',
      component: () => import('./views/OperatorView.vue'),
      meta: { titleKey: 'page.operator', session: true },
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
    // Short invitation links: /join/<token>
    { path: '/join/:token', redirect: (to) => ({ path: '/point', query: { token: String(to.params.token) } }) },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
});
